-- title: Agreements signed per month, by model
-- description: Agreements counted by the month they were signed, one stacked bar per month and a
--   colour per model, for every agreement ever listed, active or ended (rows replaced by a corrected
--   row are left out). Signing dates are as corrected by the build: where ICE mistyped a year or
--   reprinted a date, the corrected date counts (see the agreements' signed_printed column).
-- example:
-- fragment: g.mark=bar&g.x_column=month&g.x_type=temporal&g.y_column=agreements&g.y_type=quantitative&g.color_column=model
-- hide_sql: true
select
  substr(agreements.signed_on, 1, 7) as month,
  agreements.model,
  count(*) as agreements,
  sum(agreements.status = 'active') as still_active
from agreements
where agreements.signed_on is not null
  and agreements.status != 'superseded'
group by substr(agreements.signed_on, 1, 7), agreements.model
order by month, agreements.model
