-- title: Agreement documents by template
-- description: The documents on file, by the template ICE used (2019-2020 WSO/JEM, 2025 JEM/WSO,
--   2025 TFM, other) and its revision date, with pages, pages read by OCR and whether an
--   addendum is embedded. Leave the template blank for every document.
-- counts_by_model: true
-- example: template=2025 TFM
select
  moa_documents.template,
  moa_documents.revision,
  moa_documents.model,
  moa_documents.agency_named,
  moa_documents.field_office,
  moa_documents.pages,
  moa_documents.ocr_pages,
  moa_documents.addendum_embedded,
  moa_documents.agreements,
  moa_documents.file_name,
  moa_documents.url,
  moa_documents.sha256
from moa_documents
where trim(:template) = ''
  or moa_documents.template = trim(:template)
order by moa_documents.template, moa_documents.revision, moa_documents.agency_named
