-- title: Endings since a date, with the search for a successor
-- description: Every agreement that ICE stopped listing on or after the date you choose, with what the build
--   searched before calling it ended. The build first tries to continue each vanished row as a rename,
--   a relabel, a state or date correction, a re-signing or a short gap (the rules are on the "How the database is built" page);
--   what is left is here. For each ending you see the first file without it, how many later participating lists were
--   searched and still do not print it, and every agreement of the same state and model first listed from
--   a week before it was last listed to 60 days after: check those by hand if you doubt an ending.
-- example: since=2025-01-01
select
  agreements.id as agreement_id,
  agreements.state_code,
  agreements.agency,
  agreements.model,
  agreements.signed_on,
  substr(agreements.last_seen, 1, 10) as last_listed,
  substr(agreements.ended_seen, 1, 10) as first_missing,
  ended.file_name as first_file_without_it,
  (
    select count(*)
    from publications as later
    where later.list = 'participating'
      and later.status != 'held'
      and later.seq >= ended.seq
  ) as lists_searched,
  agreements.spellings as names_printed,
  agreements.agency_id,
  (
    select group_concat(nearby.agency || ' (signed ' || coalesce(nearby.signed_on, '?') || ', ' || nearby.status || ')', '; ')
    from agreements as nearby
    where nearby.state_code = agreements.state_code
      and nearby.model = agreements.model
      and nearby.id != agreements.id
      and nearby.first_seen between date(agreements.last_seen, '-7 days') and date(agreements.ended_seen, '+60 days')
  ) as listed_nearby
from agreements
join publications as ended on ended.id = agreements.ended_publication_id
where agreements.status = 'ended'
  and agreements.ended_seen >= :since
order by agreements.ended_seen, agreements.state_code, agreements.agency
