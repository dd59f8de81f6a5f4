-- title: Cancelled and ended agreements
-- description: Agreements that were on ICE's participating list and are no longer on it. ICE
--   publishes no cancellations: an agreement is ended when the publications after its last
--   listing stop printing it (ended_seen is the first publication without it). Re-dated or renamed
--   rows are merged into one agreement first, so a typo fix does not count as an ending.
-- counts_by_model: true
-- example:
select
  agreements.id as agreement_id,
  agreements.state_code,
  agreements.agency,
  agreements.model,
  agreements.signed_on,
  agreements.first_seen,
  agreements.last_seen,
  agreements.ended_seen,
  agencies.status as agency_status,
  agencies.models_active as agency_models_now,
  agreements.agency_id
from agreements
join agencies on agencies.id = agreements.agency_id
where agreements.status = 'ended'
order by agreements.ended_seen desc, agreements.state_code, agreements.agency
