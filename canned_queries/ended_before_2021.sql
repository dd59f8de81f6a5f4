-- title: Agreements that ended before 2021
-- description: Agreements on ICE's roster table of 2011-2017 (as the Internet Archive captured it)
--   that ICE's list of 13 January 2021 no longer printed, ended or superseded by a new MOA. Each ending
--   is a range: it happened after last_seen (the last capture that printed the agreement) and by
--   ended_seen (the first list without it). ended_in_gap is 1 where that range is the three and a half
--   years from 1 August 2017 to 13 January 2021, when no list of ICE's is readable. Agreements signed
--   and ended before February 2011 are on no ICE list read here: see history_evidence.
-- counts_by_model: true
-- example:
select
  agreements.id as agreement_id,
  agreements.state_code,
  agreements.agency,
  agreements.model,
  agreements.signed_on,
  agreements.status,
  agreements.first_seen,
  agreements.last_seen,
  agreements.ended_seen,
  agreements.ended_in_gap,
  agreements.superseded_by,
  agencies.earliest_signed_on,
  agencies.status as agency_status,
  agreements.agency_id
from agreements
join agencies on agencies.id = agreements.agency_id
where agreements.status in ('ended', 'superseded')
  and agreements.ended_seen <= (
    select min(published_at)
    from publications
    where list = 'participating'
      and era != 'roster'
  )
order by agreements.ended_seen desc, agreements.state_code, agreements.agency
