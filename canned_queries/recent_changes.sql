-- title: Latest changes (also an Atom feed)
-- description: The 200 most recent changes to agreements on ICE's participating list (added, ended,
--   re-dated, renamed, relabelled, moved to the right state, superseded, back after a gap), newest first, each linking to its agreement. Subscribe
--   by adding .atom to this page's address; .json gives the same entries as JSON.
-- example:
select
  changes.id as atom_id,
  changes.kind || ': ' || changes.agency || ' (' || changes.state_code || ', ' || coalesce(changes.model, '?') || ')' as atom_title,
  changes.changed_at || 'Z' as atom_updated,
  trim(coalesce(changes.before, '') || ' -> ' || coalesce(changes.after, '') || ' ' || coalesce(changes.detail, '')) as atom_content,
  '/287g/agreements/' || changes.agreement_id as atom_link,
  changes.changed_at,
  changes.kind,
  changes.state_code,
  changes.agency,
  changes.model,
  changes.agreement_id
from changes
where changes.kind in ('added', 'ended', 're-dated', 'renamed', 'relabelled', 'moved_state', 'superseded', 'gap')
order by changes.changed_at desc, changes.id
limit 200
