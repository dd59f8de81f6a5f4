select
  agreements.id as agreement_id,
  agreements.state_code,
  states.name as state,
  agreements.agency,
  agreements.model,
  agreements.support_type,
  agreements.signed_on,
  agreements.status,
  agreements.first_seen,
  agreements.last_seen,
  agreements.ended_seen,
  agreements.superseded_by,
  agreements.moa_url,
  agreements.addendum_url,
  agencies.id as agency_id,
  agencies.name as agency_name_now,
  agencies.level,
  agencies.county_name,
  agencies.county_fips,
  agencies.place_name,
  agencies.models_active as agency_models_active,
  agencies.status as agency_status,
  agencies.latitude,
  agencies.longitude,
  agencies.precision
from agreements
join agencies on agencies.id = agreements.agency_id
left join states on states.code = agreements.state_code
