-- title: ICE's participating list as of a date
-- description: The participating-agencies list exactly as ICE printed it in the most recent
--   publication on or before the end of the given day (ISO date, e.g. 2026-03-27), one row per
--   printed row. Spelling, dates and order are ICE's; the last columns link each row to the
--   agreement and agency it was resolved to, and name the file it comes from. From 20 February 2011 to
--   1 August 2017 the list is ICE's roster table as the Internet Archive captured it (the capture on or
--   before the date). ICE's list between 1 August 2017 and 13 January 2021, and before 20 February
--   2011, is not readable: a date there gives no rows, and the page says so.
-- counts_by_model: true
-- example: date=2026-03-27
with chosen as (
  select id, seq, file_name, published_at, era
  from publications
  where list = 'participating'
    and seq is not null
    and status != 'rejected'
    and published_at < date(:date, '+1 day')
  order by published_at desc, seq desc
  limit 1
),
-- after the last publication before a gap (list_gaps), until the first after it, ICE's list is unknown
known as (
  select chosen.*
  from chosen
  where not exists (
    select 1
    from list_gaps
    where list_gaps.after_publication_id = chosen.id
      and date(:date) > date(list_gaps.starts)
  )
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
  known.file_name as publication,
  known.published_at
from listings
join known on listings.list = 'participating'
  and known.seq between listings.first_seq and listings.last_seq
order by listings.state, listings.agency, listings.model
