"""Analytics and KPIs (SPEC §2.2, §2.3; features F10–F17), computed in SQL.

* :mod:`.lines`: the live lines every section is made of, argument checks, the median;
* :mod:`.declare`: what a section declaration holds;
* :mod:`.sections`: the five sections, one declaration each;
* :mod:`.build`: row queries, KPI statements and keyset pages from a declaration;
* :mod:`.kpis`: the summary KPIs in one scan; :mod:`.trend`: the licence trend;
* :mod:`.facts`: when the stored aggregates (db/analytics_facts.py) answer instead;
* :mod:`.kept`: results computed from them, kept while they stay the same.

Nothing loops over a partner's lines in Python.
"""

from resolvers.analytics.build import (
    RowOrder,
    SectionKpis,
    SectionScope,
    aggregate_statement,
    declared_sections,
    ordered_rows,
    row_query,
    section_kpis,
    section_rows,
    section_scope,
)
from resolvers.analytics.declare import COMMON, Column, Kpi, SectionDeclaration
from resolvers.analytics.facts import facts_version, use_facts
from resolvers.analytics.kpis import KpiSummary, kpis, kpis_may_have_moved
from resolvers.analytics.lines import (
    DEFAULT_DAYS,
    DEFAULT_WEEKS,
    KPI_PRODUCTS,
    MAX_DAYS,
    MAX_WEEKS,
    check_days,
    check_weeks,
    median_assignment_rate_query,
    whole_months_since,
    whole_months_until,
)
from resolvers.analytics.sections import SECTIONS
from resolvers.analytics.trend import TrendPoint, license_trend

__all__ = [
    "COMMON",
    "DEFAULT_DAYS",
    "DEFAULT_WEEKS",
    "KPI_PRODUCTS",
    "MAX_DAYS",
    "MAX_WEEKS",
    "SECTIONS",
    "Column",
    "Kpi",
    "KpiSummary",
    "RowOrder",
    "SectionDeclaration",
    "SectionKpis",
    "SectionScope",
    "TrendPoint",
    "aggregate_statement",
    "check_days",
    "check_weeks",
    "declared_sections",
    "facts_version",
    "kpis",
    "kpis_may_have_moved",
    "license_trend",
    "median_assignment_rate_query",
    "ordered_rows",
    "row_query",
    "section_kpis",
    "section_rows",
    "section_scope",
    "use_facts",
    "whole_months_since",
    "whole_months_until",
]
