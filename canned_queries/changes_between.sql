-- title: What changed between two dates
-- description: The changelog ICE never published: every agreement added, ended, re-dated, renamed,
--   relabelled, moved to the right state, superseded, back after a gap, folded as a duplicate or signed after being pending, from one publication to the next, for
--   publications dated from the start date up to and including the end date (ISO dates). Give a
--   state (postal code or name) for that state's changes only, or leave it blank for the whole country.
-- example: start=2026-03-01&end=2026-03-27&state=
select
  changes.changed_at,
  changes.kind,
  changes.state_code,
  changes.agency,
  changes.model,
  changes.before,
  changes.after,
  changes.detail,
  changes.agreement_id,
  changes.agency_id,
  publications.file_name as publication
from changes
left join publications on publications.id = changes.publication_id
left join states on states.code = changes.state_code
where changes.changed_at >= :start
  and changes.changed_at < date(:end, '+1 day')
  and (
    trim(:state) = ''
    or changes.state_code = upper(trim(:state))
    or lower(states.name) = lower(trim(:state))
  )
order by changes.changed_at, changes.kind, changes.state_code, changes.agency
