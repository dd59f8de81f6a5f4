-- title: From pending to signed: how long it took
-- description: Agencies that appeared on ICE's pending list and later on the participating list:
--   when they were first seen pending, the signing date ICE printed, and the days from first
--   pending to first listed as participating.
-- example:
select
  pending_applications.state_code,
  pending_applications.agency,
  pending_applications.model,
  pending_applications.first_seen as pending_since,
  pending_applications.signed_on,
  agreements.first_seen as listed_on,
  pending_applications.days_to_listed,
  cast(julianday(pending_applications.signed_on) - julianday(substr(pending_applications.first_seen, 1, 10)) as integer) as days_to_signed,
  pending_applications.agreement_id,
  pending_applications.agency_id
from pending_applications
left join agreements on agreements.id = pending_applications.agreement_id
where pending_applications.outcome = 'signed'
order by pending_applications.days_to_listed desc, pending_applications.agency
