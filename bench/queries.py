"""The GraphQL operations the benchmark measures (issue 6, cases 0–4).

Each is a plain string sent with variables, exactly as a frontend would send
it; the dashboard (4) is built from introspection, since its section and row
fields belong to the analytics module.
"""

from __future__ import annotations

PAGE_SIZE = 50

# (0) The comparison page: the same rows the hand-written SQL floor fetches.
COMPARE = """query Compare($first: Int!) {
  customers(first: $first, orderBy: {field: NAME, direction: ASC}) {
    nodes { id name subscriptions { subscriptionId status startsOn endsOn autoRenew } }
  }
}"""

# (0) on PostGraphile (issue 14), names as PostGraphile 5's Amber preset
# generates them for our tables: the same customers (the partner's, by name
# key; PostGraphile adds the primary key to the order, as partnerhub's page
# does) and their subscriptions in partnerhub's order (newest start first).
POSTGRAPHILE_COMPARE = """query Compare($first: Int!, $partnerId: Int!) {
  allCustomers(first: $first, condition: {partnerId: $partnerId}, orderBy: [NAME_KEY_ASC]) {
    nodes {
      rowId name
      plansByCustomerId(condition: {kind: "SUBSCRIPTION"}, orderBy: [STARTS_ON_DESC, ROW_ID_DESC]) {
        nodes { extId status startsOn endsOn autoRenew }
      }
    }
  }
}"""

LINE_FIELDS = "product total assigned used usedLast90Days available overage assignmentRate usageRate"

CUSTOMER_PAGE_FIELDS = f"""
      id name managedBy createdOn lastAdminActivityOn statuses products launchUrl
      subscriptions {{
        id subscriptionId status startsOn endsOn autoRenew renewalDate daysRemaining
        licenses {{ {LINE_FIELDS} }}
        invoices {{ number issuedOn dueOn amount currency status }}
      }}
      trials {{ id trialId status startsOn endsOn daysRemaining licenses {{ {LINE_FIELDS} }} }}
      partnerAdmins {{ id email displayName role }}"""

# (1) The list page: every Customer field with its nested tabs; (2) the same
# page deep by cursor and/or filtered.
LIST_PAGE = f"""query ListPage($first: Int!, $after: String, $filter: CustomerFilter) {{
  customers(first: $first, after: $after, filter: $filter, orderBy: {{field: NAME, direction: ASC}}) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{{CUSTOMER_PAGE_FIELDS}
    }}
  }}
}}"""

# Walks pages by cursor to find the cursor of a deep page (not measured).
CURSOR_WALK = """query Walk($first: Int!, $after: String, $filter: CustomerFilter) {
  customers(first: $first, after: $after, filter: $filter, orderBy: {field: NAME, direction: ASC}) {
    pageInfo { hasNextPage endCursor }
  }
}"""

# (3) Customer detail: every tab of one customer.
DETAIL = f"""query Detail($id: ID!) {{
  customer(id: $id) {{
    id name managedBy createdOn lastAdminActivityOn statuses products launchUrl
    subscriptions {{
      id subscriptionId status startsOn endsOn autoRenew renewalDate daysRemaining
      licenses {{ {LINE_FIELDS} history(weeks: 12) {{ date total assigned used }} }}
      invoices {{ number issuedOn dueOn amount currency status }}
      orders {{ number placedOn action product quantity }}
    }}
    trials {{ id trialId status startsOn endsOn daysRemaining startedBy {{ id email displayName }}
              licenses {{ {LINE_FIELDS} }} }}
    partnerAdmins {{ id email displayName role hasAccessToAllCustomers }}
  }}
}}"""

# Customers to rotate through for (3).
DETAIL_IDS = """query DetailIds($first: Int!) {
  customers(first: $first, orderBy: {field: CREATED_ON, direction: DESC}) { nodes { id } }
}"""

HAS_KPIS = """{ __schema { queryType { fields { name } } } }"""

TYPE_FIELDS = """query TypeFields($name: String!) {
  __type(name: $name) {
    name kind
    fields {
      name
      args { name type { kind name ofType { kind name } } defaultValue }
      type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }
    }
  }
}"""
