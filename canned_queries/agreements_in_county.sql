-- title: Agreements in a county
-- description: Every agreement of the agencies located in one county: give the state (postal code
--   or name) and the county name without "County" (e.g. state=TX, county=Galveston). Municipal
--   departments count toward the county their town lies in; state agencies are not in any county.
-- counts_by_model: true
-- example: state=TX&county=Galveston
select
  agreements.id as agreement_id,
  agreements.agency,
  agencies.level,
  agencies.place_name as place,
  agreements.model,
  agreements.signed_on,
  agreements.status,
  agencies.county_name as county,
  agencies.county_fips,
  agreements.agency_id
from agreements
join agencies on agencies.id = agreements.agency_id
join states on states.code = agencies.state_code
where (states.code = upper(trim(:state)) or lower(states.name) = lower(trim(:state)))
  and (
    lower(agencies.county_name) = lower(trim(:county))
    or lower(agencies.county_name) like lower(trim(:county)) || ' %'
  )
order by agreements.status = 'active' desc, agreements.agency, agreements.model
