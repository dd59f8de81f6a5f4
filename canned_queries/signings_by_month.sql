-- title: Agreements signed per month, by model
-- description: Agreements counted by the month of their signing date as ICE prints it, for every
--   agreement ever listed (active, ended or superseded by a corrected row are all counted once;
--   superseded rows are left out).
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
