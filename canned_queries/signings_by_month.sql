-- title: Agreements signed per month, by model
-- description: Agreements counted by the month of their signing date (one stacked bar a month, a colour a model), for every agreement ever listed
--   (active, ended, or superseded by a later MOA: each was signed once). Dates are as corrected by the
--   build: a date ICE later fixed is counted at the fixed date, and years ICE typed wrong (Ottawa County OK
--   2025 for 2026) are fixed through data/corrections.csv; signed_printed keeps ICE's own value.
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
group by substr(agreements.signed_on, 1, 7), agreements.model
order by month, agreements.model
