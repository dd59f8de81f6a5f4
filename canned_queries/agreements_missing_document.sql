-- title: Active agreements whose document is not on file
-- description: Active agreements whose signed MOA is not in the database: either ICE's list
--   prints no link for it, or it links a PDF this project does not hold yet (the fetcher brings
--   ICE's documents in; the shipped corpus holds a part of them).
-- counts_by_model: true
-- example:
select
  agreements.id as agreement_id,
  agreements.state_code,
  agreements.agency,
  agreements.model,
  agreements.signed_on,
  case when agreements.moa_url is null then 'no link printed' else 'linked, not on file' end as why,
  agreements.moa_url,
  agreements.agency_id
from agreements
where agreements.status = 'active'
  and agreements.id not in (select agreement_id from agreement_documents where sha256 is not null and role = 'moa')
order by why, agreements.state_code, agreements.agency
