-- title: Steering-committee meetings of an agency
-- description: The 287(g) steering-committee meetings ICE listed on its web page (fiscal years
--   2023 to 2025, as of May 2024) for agencies whose name contains the given text (e.g. Cabarrus).
--   The match column says how sure the link to an agency in the database is.
-- example: agency=Cabarrus
select
  steering_committee_meetings.fiscal_year,
  steering_committee_meetings.meeting_on,
  steering_committee_meetings.moa_name,
  steering_committee_meetings.model,
  steering_committee_meetings.location,
  agencies.state_code,
  agencies.name as agency,
  steering_committee_meetings.match,
  steering_committee_meetings.agency_id
from steering_committee_meetings
left join agencies on agencies.id = steering_committee_meetings.agency_id
where steering_committee_meetings.moa_name like '%' || trim(:agency) || '%'
  or agencies.name like '%' || trim(:agency) || '%'
order by steering_committee_meetings.meeting_on, steering_committee_meetings.moa_name
