-- title: Latest changes (also an Atom feed)
-- description: The 200 most recent changes to ICE's lists, newest first. Subscribe to the same
--   query as an Atom feed by adding .atom to its address.
-- example:
select
  changes.id as atom_id,
  changes.kind || ': ' || changes.agency || ' (' || changes.state_code || ', ' || coalesce(changes.model, '?') || ')' as atom_title,
  changes.changed_at || 'Z' as atom_updated,
  trim(coalesce(changes.before, '') || ' -> ' || coalesce(changes.after, '') || ' ' || coalesce(changes.detail, '')) as atom_content,
  changes.changed_at,
  changes.kind,
  changes.state_code,
  changes.agency,
  changes.model,
  changes.agreement_id
from changes
order by changes.changed_at desc, changes.id
limit 200
