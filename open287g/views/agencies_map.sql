with signings as (
  select
    agency_id,
    group_concat(signing, '; ') as signed_on
  from (
    select
      agreements.agency_id,
      agreements.model || ' ' || coalesce(agreements.signed_on, 'undated')
        || case when agreements.status = 'active' then '' else ' (' || agreements.status || ')' end as signing
    from agreements
    order by agreements.agency_id, agreements.model, agreements.signed_on
  )
  group by agency_id
)
select
  agencies.id,
  agencies.name,
  agencies.state_code,
  agencies.level,
  agencies.county_name,
  agencies.place_name,
  agencies.status,
  agencies.models_active,
  agencies.models_ever,
  signings.signed_on,
  agencies.first_seen,
  agencies.last_seen,
  agencies.precision,
  agencies.latitude,
  agencies.longitude,
  json_object(
    'title', agencies.name || ' (' || agencies.state_code || ')',
    'description', coalesce(nullif(agencies.models_active, ''), nullif(agencies.models_ever, ''), 'no agreement')
      || ' · ' || agencies.status
      || ' · signed: ' || coalesce(signings.signed_on, 'none')
      || ' · ' || coalesce(agencies.place_name || ', ', '') || coalesce(agencies.county_name || ', ', '') || agencies.state_code
      || ' · located at ' || agencies.precision || ' level',
    'link', '/287g/agencies/' || agencies.id
  ) as popup
from agencies
left join signings on signings.agency_id = agencies.id
where agencies.latitude is not null
