-- title: ICE's participating list as of a date
-- description: The participating-agencies list exactly as ICE printed it in the most recent
--   publication on or before the end of the given day (ISO date, e.g. 2026-03-27), one row per
--   printed row. Spelling, dates and order are ICE's; the last columns link each row to the
--   agreement and agency it was resolved to, and name the file it comes from.
-- counts_by_model: true
-- example: date=2026-03-27
with chosen as (
  select id, seq, file_name, published_at
  from publications
  where list = 'participating'
    and seq is not null
    and status != 'rejected'
    and published_at < date(:date, '+1 day')
  order by published_at desc, seq desc
  limit 1
)
select
  listings.state,
  listings.agency,
  listings.support_type,
  listings.signed_on,
  listings.level,
  listings.county,
  listings.signed as signed_printed,
  listings.moa_url,
  listings.addendum_url,
  listings.model,
  listings.agreement_id,
  listings.agency_id,
  chosen.file_name as publication,
  chosen.published_at
from listings
join chosen on listings.list = 'participating'
  and chosen.seq between listings.first_seq and listings.last_seq
order by listings.state, listings.agency, listings.model
