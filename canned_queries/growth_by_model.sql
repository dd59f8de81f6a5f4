-- title: Growth of agreements by model, month by month
-- description: How many agreements of each model ICE listed at the end of each month: the last
--   participating publication of the month (its file is named), counted by model. From 2021 to
--   February 2025 the counts come from the table on ICE's web page as archived, from February 2011 to
--   August 2017 from ICE's roster table as the Internet Archive captured it. Before 2011 the points are
--   not ICE's list of agreements: ICE's own name lists of September 2007 and March 2008 count agencies
--   (model "names"), and the DHS Inspector General's table of October 2009 counts signed agreements by
--   model (a Hybrid counted once per model). No ICE list between August 2017 and January 2021 is
--   readable: the chart leaves that stretch empty.
-- example:
-- fragment: g.mark=line&g.x_column=month&g.x_type=temporal&g.y_column=agreements&g.y_type=quantitative&g.color_column=model
-- hide_sql: true
with month_end as (
  select substr(published_at, 1, 7) as month, max(seq) as seq
  from publications
  where list = 'participating'
    and status in ('used', 'duplicate')
  group by substr(published_at, 1, 7)
),
listed as (
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
),
reported as (
  select
    substr(as_of, 1, 7) as month,
    'names' as model,
    count(*) as agreements,
    min(source) as publication
  from history_evidence
  where file = 'history/historical-ice-lists.csv'
  group by as_of
  union all
  select
    substr(as_of, 1, 7) as month,
    model,
    count(*) as agreements,
    min(source) as publication
  from history_evidence
  where file = 'history/historical-oig-2009.csv'
    and note is null
    and model is not null
  group by as_of, model
)
select month, model, agreements, publication
from (
  select * from reported
  union all
  select * from listed
)
order by month, model
