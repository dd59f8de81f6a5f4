-- title: Growth of agreements by model, month by month
-- description: How many agreements of each model ICE listed at the end of each month: the last
--   participating publication of the month (its file is named), counted by model. Before February
--   2025 the counts come from the roster table on ICE's web page as archived.
-- example:
-- fragment: g.mark=line&g.x_column=month&g.x_type=temporal&g.y_column=agreements&g.y_type=quantitative&g.color_column=model
-- hide_sql: true
with month_end as (
  select substr(published_at, 1, 7) as month, max(seq) as seq
  from publications
  where list = 'participating'
    and status in ('used', 'duplicate')
  group by substr(published_at, 1, 7)
)
select
  month_end.month,
  listings.model,
  count(distinct listings.agreement_id) as agreements,
  publications.file_name as publication
from month_end
join publications on publications.list = 'participating'
  and publications.seq = month_end.seq
join listings on listings.list = 'participating'
  and month_end.seq between listings.first_seq and listings.last_seq
where listings.model is not null
group by month_end.month, listings.model
order by month_end.month, listings.model
