-- title: Agreements signed for ICE by an official
-- description: Every agreement document on file signed for ICE by a person whose name contains
--   the words given (for example "Lyons" or "Cronen"), with the agency that signed the other side,
--   the dates where they are typed, and the page of the signature block. Names are as the
--   document prints them; a signature with no typed name is not counted.
-- counts_by_model: true
-- example: name=Lyons
select
  ice.name as ice_official,
  ice.title as ice_title,
  ice.signed_on as ice_signed_on,
  agency.name as agency_signer,
  agency.title as agency_signer_title,
  agency.signed_on as agency_signed_on,
  agency.date_handwritten as agency_date_handwritten,
  moa_documents.model,
  moa_documents.agency_named,
  moa_documents.file_name,
  ice.page,
  moa_documents.url,
  moa_documents.sha256
from moa_signatories as ice
join moa_documents on moa_documents.sha256 = ice.sha256
left join moa_signatories as agency on agency.sha256 = ice.sha256 and agency.party = 'agency'
where ice.party = 'ice'
  and ice.name like '%' || trim(:name) || '%'
order by ice.name, ice.signed_on, moa_documents.agency_named
