-- title: Latest changes to ICE's 287(g) list
-- description: The 200 most recent changes to agreements on ICE's participating list (added, ended,
--   re-dated, renamed, relabelled, moved to the right state, superseded, back after a gap), newest
--   first, each linking to its agreement. Give a state (postal code or name) for that state's
--   changes only, or leave it blank for the whole country. Follow them in a feed reader with the Atom feed link; dates are as ICE's lists show them.
--   At /es/287g/recent_changes.atom the feed is in Spanish.
-- example: state=
with month_names(number, en, es) as (
  values (1, 'January', 'enero'), (2, 'February', 'febrero'), (3, 'March', 'marzo'), (4, 'April', 'abril'),
    (5, 'May', 'mayo'), (6, 'June', 'junio'), (7, 'July', 'julio'), (8, 'August', 'agosto'),
    (9, 'September', 'septiembre'), (10, 'October', 'octubre'), (11, 'November', 'noviembre'), (12, 'December', 'diciembre')
),
-- :_open287g_lang is the language of the reader, en or es (open287g/plugins/i18n.py): the sentences of the feed
-- are written in it; " March " or " de marzo de " goes between the day and the year of a date
month_words(number, words) as (
  select
    number,
    case when :_open287g_lang = 'es' then ' de ' || es || ' de ' else ' ' || en || ' ' end
  from month_names
),
feed as (
  select
    changes.*,
    agreements.last_seen,
    agreements.ended_in_gap,
    case when :_open287g_lang = 'es' then
      case changes.model
        when 'JEM' then 'modelo de Control en Cárceles (JEM)'
        when 'WSO' then 'modelo de Oficial de Órdenes de Arresto (WSO)'
        when 'TFM' then 'modelo de Fuerza de Tarea (TFM)'
        else 'modelo desconocido'
      end
    else
      case changes.model
        when 'JEM' then 'Jail Enforcement Model'
        when 'WSO' then 'Warrant Service Officer'
        when 'TFM' then 'Task Force Model'
        else 'unknown model'
      end
    end as model_name,
    changes.agency || ' (' || changes.state_code || ')' as who
  from changes
  left join agreements on agreements.id = changes.agreement_id
  left join states on states.code = changes.state_code
  where changes.kind in ('added', 'ended', 're-dated', 'renamed', 'relabelled', 'moved_state', 'superseded', 'gap')
    and (
      trim(:state) = ''
      or changes.state_code = upper(trim(:state))
      or lower(states.name) = lower(trim(:state))
    )
  order by changes.changed_at desc, changes.id
  limit 200
),
-- dates in words ("20 March 2026", "20 de marzo de 2026") for the feed's sentences
worded as (
  select
    feed.*,
    (select ltrim(substr(feed.after, 9, 2), '0') || words || substr(feed.after, 1, 4) from month_words where number = cast(substr(feed.after, 6, 2) as integer)) as after_words,
    (select ltrim(substr(feed.before, 9, 2), '0') || words || substr(feed.before, 1, 4) from month_words where number = cast(substr(feed.before, 6, 2) as integer)) as before_words,
    (select ltrim(substr(feed.last_seen, 9, 2), '0') || words || substr(feed.last_seen, 1, 4) from month_words where number = cast(substr(feed.last_seen, 6, 2) as integer)) as last_seen_words,
    (select ltrim(substr(feed.changed_at, 9, 2), '0') || words || substr(feed.changed_at, 1, 4) from month_words where number = cast(substr(feed.changed_at, 6, 2) as integer)) as changed_words
  from feed
)
select
  'tag:' || substr(:_header_host, 1, instr(:_header_host || ':', ':') - 1) || ',' || substr(worded.changed_at, 1, 10) || ':287g/changes/' || worded.id
    || case when :_open287g_lang = 'es' then '/es' else '' end as atom_id,
  case when :_open287g_lang = 'es' then
    case worded.kind
      when 'added' then worded.who || ': acuerdo del ' || worded.model_name || ' añadido a la lista; firmado el ' || coalesce(worded.after_words, 'una fecha desconocida')
      when 'ended' then worded.who || ': el acuerdo del ' || worded.model_name || ' terminó entre el ' || coalesce(worded.last_seen_words, 'una fecha desconocida') || ' y el ' || worded.changed_words || case when worded.ended_in_gap then ', un período del que no se conserva ninguna lista legible de ICE' else '' end
      when 're-dated' then worded.who || ': el acuerdo del ' || worded.model_name || ' ahora tiene fecha del ' || coalesce(worded.after_words, 'una fecha desconocida') || ' en lugar del ' || coalesce(worded.before_words, 'una fecha desconocida')
      when 'renamed' then worded.who || ': el acuerdo del ' || worded.model_name || ' ahora figura como ' || worded.after
      when 'superseded' then worded.who || ': el acuerdo del ' || worded.model_name || ' firmado el ' || coalesce(worded.before_words, 'una fecha desconocida') || ' fue reemplazado por uno firmado el ' || coalesce(worded.after_words, 'una fecha desconocida')
      when 'relabelled' then worded.who || ': acuerdo del ' || worded.model_name || ', antes listado como ' || coalesce(worded.before, 'otro organismo')
      when 'moved_state' then worded.who || ': el acuerdo del ' || worded.model_name || ' ahora figura en ' || coalesce(worded.after, 'otro estado') || ' en lugar de ' || coalesce(worded.before, 'otro estado')
      when 'gap' then worded.who || ': el acuerdo del ' || worded.model_name || ' vuelve a la lista tras una ausencia'
      else worded.who || ': acuerdo del ' || worded.model_name || ': ' || worded.kind
    end
  else case worded.kind
    when 'added' then worded.who || ': ' || worded.model_name || ' agreement added to the list; signed ' || coalesce(worded.after_words, 'an unknown date')
    when 'ended' then worded.who || ': ' || worded.model_name || ' agreement ended between ' || coalesce(worded.last_seen_words, 'an unknown date') || ' and ' || worded.changed_words || case when worded.ended_in_gap then ', when no list of ICE''s is readable' else '' end
    when 're-dated' then worded.who || ': ' || worded.model_name || ' agreement now dated ' || coalesce(worded.after_words, 'an unknown date') || ' instead of ' || coalesce(worded.before_words, 'an unknown date')
    when 'renamed' then worded.who || ': ' || worded.model_name || ' agreement now listed as ' || worded.after
    when 'superseded' then worded.who || ': ' || worded.model_name || ' agreement signed ' || coalesce(worded.before_words, 'an unknown date') || ' replaced by one signed ' || coalesce(worded.after_words, 'an unknown date')
    when 'relabelled' then worded.who || ': ' || worded.model_name || ' agreement, listed before under ' || coalesce(worded.before, 'another body')
    when 'moved_state' then worded.who || ': ' || worded.model_name || ' agreement now listed in ' || coalesce(worded.after, 'another state') || ' instead of ' || coalesce(worded.before, 'another state')
    when 'gap' then worded.who || ': ' || worded.model_name || ' agreement back on the list after a gap'
    else worded.who || ': ' || worded.model_name || ' agreement ' || worded.kind
  end end as atom_title,
  worded.changed_at || 'Z' as atom_updated,
  -- the evidence of the build for an ending or a gap is in English in both editions
  case when :_open287g_lang = 'es' then 'Visto en la lista de participantes de ICE del ' || worded.changed_words || '.' || case
      when worded.kind in ('ended', 'gap') then coalesce(' (En inglés: ' || worded.detail || '.)', '')
      else ''
    end
  else 'Seen in ICE''s participating list of ' || worded.changed_words || '.' || case
      when worded.kind in ('ended', 'gap') then coalesce(' ' || upper(substr(worded.detail, 1, 1)) || substr(worded.detail, 2) || '.', '')
      else ''
    end
  end as atom_content,
  coalesce(nullif(:_header_x_forwarded_proto, ''), 'http') || '://' || :_header_host
    || case when :_open287g_lang = 'es' then '/es' else '' end || '/287g/agreements/' || worded.agreement_id as atom_link,
  worded.changed_at,
  worded.kind,
  worded.state_code,
  worded.agency,
  worded.model,
  worded.before,
  worded.after,
  worded.agreement_id
from worded
order by worded.changed_at desc, worded.id
