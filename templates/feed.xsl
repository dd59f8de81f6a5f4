<?xml version="1.0" encoding="utf-8"?>
<!-- How a browser shows the change feed: a page that says what a feed is and how to follow it, then
     its entries. Feed readers ignore this stylesheet and read the Atom XML. A template, served at
     /feed.xsl and /es/feed.xsl (open287g/plugins/feeds.py), with its words from the catalogue. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform" xmlns:atom="http://www.w3.org/2005/Atom">
  <xsl:output method="html" encoding="utf-8" doctype-system="about:legacy-compat"/>
  <xsl:template match="/atom:feed">
    <html lang="{{ site_lang or 'en' }}">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="atom:title"/> ({{ _("feed") }})</title>
        <style>
          body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 1rem auto; padding: 0 1rem; line-height: 1.45; color: #222; }
          .about { background: #f3f6f9; border: 1px solid #c9d3dd; padding: 0.6rem 1rem; border-radius: 6px; }
          code { word-break: break-all; background: #fff; padding: 0 0.2rem; }
          li { margin-bottom: 0.6rem; }
          .when { color: #555; font-size: 0.9rem; }
        </style>
      </head>
      <body>
        <p><a href="{{ "/" if site_lang == "en" else "/es/" }}">287(g) Open Data</a></p>
        <h1><xsl:value-of select="atom:title"/></h1>
        <div class="about">
          <p>{% trans %}This is a news feed (Atom). To be told of each new change, copy this page's address into a
          feed reader (for example Feedly, Inoreader, NetNewsWire or Thunderbird):{% endtrans %}</p>
          <p><code><xsl:value-of select="atom:link[@rel='self']/@href"/></code></p>
          <p>{{ _("Below are the changes it holds now, newest first. Each links to its agreement.") }}</p>
        </div>
        <ul>
          <xsl:for-each select="atom:entry">
            <xsl:sort select="atom:updated" order="descending"/>
            <li>
              <a href="{atom:link/@href}"><xsl:value-of select="atom:title"/></a><br/>
              <span class="when"><xsl:value-of select="atom:content"/></span>
            </li>
          </xsl:for-each>
        </ul>
      </body>
    </html>
  </xsl:template>
</xsl:stylesheet>
