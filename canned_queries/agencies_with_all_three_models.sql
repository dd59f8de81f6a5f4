-- title: Agencies holding all three models
-- description: Agencies with an active Jail Enforcement, Warrant Service Officer and Task Force
--   agreement at the same time on ICE's newest list, with the date each was signed.
-- example:
select
  agencies.id as agency_id,
  agencies.state_code,
  agencies.name,
  agencies.level,
  agencies.county_name as county,
  max(case when agreements.model = 'JEM' then agreements.signed_on end) as jem_signed_on,
  max(case when agreements.model = 'WSO' then agreements.signed_on end) as wso_signed_on,
  max(case when agreements.model = 'TFM' then agreements.signed_on end) as tfm_signed_on
from agencies
join agreements on agreements.agency_id = agencies.id
  and agreements.status = 'active'
group by agencies.id
having count(distinct agreements.model) = 3
order by agencies.state_code, agencies.name
