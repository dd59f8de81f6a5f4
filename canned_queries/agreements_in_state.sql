-- title: Agreements in a state
-- description: Every agreement ICE ever listed for agencies in one state (two-letter postal code
--   such as FL, or the full name), active ones first, newest signing first. Give a status (active,
--   ended or superseded) for those only, or leave it blank for all.
-- counts_by_model: true
-- example: state=FL&status=
select
  agreements.agency,
  agreements.level,
  agencies.county_name as county,
  agreements.model,
  agreements.signed_on,
  agreements.status,
  agreements.moa_url,
  agreements.addendum_url,
  agreements.first_seen,
  agreements.last_seen,
  agreements.agency_id,
  agreements.id as agreement_id
from agreements
join agencies on agencies.id = agreements.agency_id
join states on states.code = agreements.state_code
where (
    states.code = upper(trim(:state))
    or lower(states.name) = lower(trim(:state))
  )
  and (
    trim(:status) = ''
    or agreements.status = lower(trim(:status))
  )
order by agreements.status = 'active' desc, agreements.signed_on desc, agreements.agency
