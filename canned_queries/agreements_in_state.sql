-- title: Agreements in a state
-- description: Every agreement ICE ever listed for agencies in one state (two-letter postal code
--   such as FL, or the full name), active ones first, newest signing first.
-- counts_by_model: true
-- example: state=FL
select
  agreements.id as agreement_id,
  agreements.agency,
  agreements.model,
  agreements.signed_on,
  agreements.status,
  agreements.level,
  agencies.county_name as county,
  agreements.first_seen,
  agreements.last_seen,
  agreements.moa_url,
  agreements.agency_id
from agreements
join agencies on agencies.id = agreements.agency_id
join states on states.code = agreements.state_code
where states.code = upper(trim(:state))
  or lower(states.name) = lower(trim(:state))
order by agreements.status = 'active' desc, agreements.signed_on desc, agreements.agency
