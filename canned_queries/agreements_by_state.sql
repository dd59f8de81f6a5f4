-- title: Active agreements by state and model
-- description: The agreements on ICE's newest participating list, counted per state and model,
--   with the number of distinct agencies.
-- example:
-- fragment: g.mark=bar&g.x_column=state&g.x_type=ordinal&g.y_column=agreements&g.y_type=quantitative&g.color_column=model
-- hide_sql: true
select
  agreements.state_code as state,
  agreements.model,
  count(*) as agreements,
  count(distinct agreements.agency_id) as agencies
from agreements
where agreements.status = 'active'
group by agreements.state_code, agreements.model
order by agreements.state_code, agreements.model
