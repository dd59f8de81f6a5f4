-- title: May 2024 list against today: who is still in, who left
-- description: Each agreement on ICE's historical MOA table as printed on its web page in May 2024,
--   with whether the same agency still holds an active agreement of the same model on ICE's newest
--   list ("still in"), holds only other models now, or has left the program.
-- example:
select
  historical_moa_2024.state_code,
  historical_moa_2024.agency,
  historical_moa_2024.model,
  historical_moa_2024.signed_on as signed_on_2024,
  case
    when historical_moa_2024.agency_id is null then 'not matched to an agency'
    when exists (
      select 1 from agreements
      where agreements.agency_id = historical_moa_2024.agency_id
        and agreements.model = historical_moa_2024.model
        and agreements.status = 'active'
    ) then 'still in'
    when agencies.status = 'active' then 'other models only'
    else 'left'
  end as today,
  agencies.models_active as models_now,
  agencies.last_seen as agency_last_seen,
  historical_moa_2024.agency_id
from historical_moa_2024
left join agencies on agencies.id = historical_moa_2024.agency_id
order by today, historical_moa_2024.state_code, historical_moa_2024.agency
