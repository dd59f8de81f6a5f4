-- title: Cancelled and ended agreements
-- description: Agreements that were on ICE's participating list and are no longer on it, newest
--   ending first. ICE publishes no cancellations: an agreement ended between the last list that
--   printed it (last_listed) and the first that did not (first_missing), and that is all the lists
--   can say. Re-dated or renamed rows are merged into one agreement first, so a typo fix does not
--   count as an ending. Give a state (postal code or name) for that state's only, and a date for
--   the endings first seen on or after it; leave either blank for all.
-- counts_by_model: true
-- example: state=&since=
select
  agreements.agency,
  states.name as state_name,
  agreements.model,
  agreements.signed_on,
  replace(substr(agreements.last_seen, 1, 16), 'T', ' ') as last_listed,
  replace(substr(agreements.ended_seen, 1, 16), 'T', ' ') as first_missing,
  agencies.status as agency_status,
  agencies.models_active as agency_models_now,
  agreements.first_seen,
  agreements.agency_id,
  agreements.id as agreement_id
from agreements
join agencies on agencies.id = agreements.agency_id
join states on states.code = agreements.state_code
where agreements.status = 'ended'
  and (
    trim(:state) = ''
    or states.code = upper(trim(:state))
    or lower(states.name) = lower(trim(:state))
  )
  and (
    trim(:since) = ''
    or agreements.ended_seen >= trim(:since)
  )
order by agreements.ended_seen desc, states.name, agreements.agency
