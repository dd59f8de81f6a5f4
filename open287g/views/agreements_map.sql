select
  agreements.id,
  agreements.agency,
  agreements.state_code,
  agreements.model,
  agreements.status,
  agreements.signed_on,
  agreements.first_seen,
  agreements.last_seen,
  agreements.latitude,
  agreements.longitude,
  json_object(
    'title', agreements.agency || ' (' || agreements.model || ')',
    'description', agreements.state_code || ' · ' || agreements.model || ' · signed ' || coalesce(agreements.signed_on, 'date not printed') || ' · ' || agreements.status,
    'link', '/287g/agreements/' || agreements.id
  ) as popup
from agreements
where agreements.latitude is not null
