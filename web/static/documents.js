// Every GraphQL document the dashboard sends, by operation name.
//
// Each value is one complete, named operation (with its own fragments) written
// out in full: nothing here or in app.js builds document text at run time, and
// every value the page varies travels in `variables`. A build step can read
// this file as it is and turn it into a persisted-query allow-list
// (tests/test_browser.py checks that each document parses, is named after its
// key and is valid against schema.graphql, and that the page sends nothing else).
//
// Documents whose name ends in `WithStatusDetails` or `Ordered` use API
// features that are announced but may not be deployed yet (Customer.statusDetails,
// orderBy on analytics section rows). The page sends them only when the
// start-up introspection (`Features`) finds those fields in the schema.
"use strict";

globalThis.PartnerHubDocuments = Object.freeze({
  // ------------------------------------------------------------ start-up

  Features: `query Features {
  customer: __type(name: "Customer") { fields { name } }
  statusDetail: __type(name: "StatusDetail") { fields { name } }
  recentlyAdded: __type(name: "RecentlyAddedSection") { ...SectionRowsArgs }
  expiring: __type(name: "ExpiringSection") { ...SectionRowsArgs }
  renewing: __type(name: "RenewingSection") { ...SectionRowsArgs }
  lowAssignment: __type(name: "LowAssignmentSection") { ...SectionRowsArgs }
  overLimit: __type(name: "OverLimitSection") { ...SectionRowsArgs }
}
fragment SectionRowsArgs on __Type {
  fields { name args { name type { ...OrderInput ofType { ...OrderInput } } } }
}
fragment OrderInput on __Type {
  kind
  name
  inputFields { name type { kind name enumValues { name } ofType { kind name enumValues { name } } } }
}`,

  Viewer: `query Viewer { viewer { id email displayName role hasAccessToAllCustomers } }`,

  // ------------------------------------------------------------ overview

  Kpis: `query Kpis {
  kpis { asOf totalCustomers expiring renewing lowLicenseAssignment overLicenseLimit }
  meetingsCustomers: customers(first: 1, filter: { products: [MEETINGS] }) { totalCount }
  callingCustomers: customers(first: 1, filter: { products: [CALLING] }) { totalCount }
  meetings: analytics(product: MEETINGS) { ...ProductCounts }
  calling: analytics(product: CALLING) { ...ProductCounts }
}
fragment ProductCounts on Analytics {
  expiring { expiringCustomers }
  renewing { renewingCustomers }
  lowAssignment { lowAssignmentCustomers }
  overLimit { customersWithOverage }
}`,

  Analytics: `query Analytics($product: KpiProduct!, $first: Int!) {
  analytics(product: $product) {
    product
    asOf
    licenseTrend(weeks: 12) { date total assigned used }
    recentlyAdded {
      days newCustomers totalLicenses
      rows(first: $first) { totalCount pageInfo { hasNextPage endCursor } nodes { ...RecentlyAddedFields } }
    }
    expiring {
      days expiringCustomers licenseAssignmentRate licenseUsageRate
      rows(first: $first) { totalCount pageInfo { hasNextPage endCursor } nodes { ...ExpiringFields } }
    }
    renewing {
      days renewingCustomers licenseAssignmentRate licenseUsageRate
      rows(first: $first) { totalCount pageInfo { hasNextPage endCursor } nodes { ...RenewingFields } }
    }
    lowAssignment {
      medianAssignmentRate lowAssignmentCustomers licenseAssignmentRate usageWhenAssignedRate totalUnassignedLicenses
      rows(first: $first) { totalCount pageInfo { hasNextPage endCursor } nodes { ...LowAssignmentFields } }
    }
    overLimit {
      customersWithOverage totalOverageLicenses averageOverage
      rows(first: $first) { totalCount pageInfo { hasNextPage endCursor } nodes { ...OverLimitFields } }
    }
  }
}
fragment RecentlyAddedFields on RecentlyAddedRow {
  customer { id name } planType subscriptionId totalLicenses assigned used available
  daysSinceAdded weeklyAssignmentChange weeklyUsageChange
}
fragment ExpiringFields on ExpiringRow {
  customer { id name } planType subscriptionId totalLicenses assigned used available daysToExpiry usageLast3Months
}
fragment RenewingFields on RenewingRow {
  customer { id name } planType subscriptionId totalLicenses assigned used available daysToRenewal usageLast3Months
}
fragment LowAssignmentFields on LowAssignmentRow {
  customer { id name } planType subscriptionId totalLicenses assigned used available
  monthsSinceAdded assignmentRate weeklyAssignmentChange
}
fragment OverLimitFields on OverLimitRow {
  customer { id name } planType subscriptionId totalLicenses assigned used available
  monthsRemaining autoRenew assignmentRate usageRate overage
}`,

  // One page of a section's rows (Show more, CSV download), in the default order.
  RecentlyAddedRows: `query RecentlyAddedRows($product: KpiProduct!, $first: Int!, $after: String) {
  analytics(product: $product) { recentlyAdded {
    rows(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes {
      customer { id name } planType subscriptionId totalLicenses assigned used available
      daysSinceAdded weeklyAssignmentChange weeklyUsageChange
    } }
  } }
}`,
  ExpiringRows: `query ExpiringRows($product: KpiProduct!, $first: Int!, $after: String) {
  analytics(product: $product) { expiring {
    rows(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes {
      customer { id name } planType subscriptionId totalLicenses assigned used available daysToExpiry usageLast3Months
    } }
  } }
}`,
  RenewingRows: `query RenewingRows($product: KpiProduct!, $first: Int!, $after: String) {
  analytics(product: $product) { renewing {
    rows(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes {
      customer { id name } planType subscriptionId totalLicenses assigned used available daysToRenewal usageLast3Months
    } }
  } }
}`,
  LowAssignmentRows: `query LowAssignmentRows($product: KpiProduct!, $first: Int!, $after: String) {
  analytics(product: $product) { lowAssignment {
    rows(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes {
      customer { id name } planType subscriptionId totalLicenses assigned used available
      monthsSinceAdded assignmentRate weeklyAssignmentChange
    } }
  } }
}`,
  OverLimitRows: `query OverLimitRows($product: KpiProduct!, $first: Int!, $after: String) {
  analytics(product: $product) { overLimit {
    rows(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes {
      customer { id name } planType subscriptionId totalLicenses assigned used available
      monthsRemaining autoRenew assignmentRate usageRate overage
    } }
  } }
}`,

  // The same pages in a chosen order: only once the schema has `rows(orderBy:)`
  // with an input type <Section>RowOrder { field, direction } (see Features).
  RecentlyAddedRowsOrdered: `query RecentlyAddedRowsOrdered($product: KpiProduct!, $first: Int!, $after: String, $orderBy: RecentlyAddedRowOrder) {
  analytics(product: $product) { recentlyAdded {
    rows(first: $first, after: $after, orderBy: $orderBy) { totalCount pageInfo { hasNextPage endCursor } nodes {
      customer { id name } planType subscriptionId totalLicenses assigned used available
      daysSinceAdded weeklyAssignmentChange weeklyUsageChange
    } }
  } }
}`,
  ExpiringRowsOrdered: `query ExpiringRowsOrdered($product: KpiProduct!, $first: Int!, $after: String, $orderBy: ExpiringRowOrder) {
  analytics(product: $product) { expiring {
    rows(first: $first, after: $after, orderBy: $orderBy) { totalCount pageInfo { hasNextPage endCursor } nodes {
      customer { id name } planType subscriptionId totalLicenses assigned used available daysToExpiry usageLast3Months
    } }
  } }
}`,
  RenewingRowsOrdered: `query RenewingRowsOrdered($product: KpiProduct!, $first: Int!, $after: String, $orderBy: RenewingRowOrder) {
  analytics(product: $product) { renewing {
    rows(first: $first, after: $after, orderBy: $orderBy) { totalCount pageInfo { hasNextPage endCursor } nodes {
      customer { id name } planType subscriptionId totalLicenses assigned used available daysToRenewal usageLast3Months
    } }
  } }
}`,
  LowAssignmentRowsOrdered: `query LowAssignmentRowsOrdered($product: KpiProduct!, $first: Int!, $after: String, $orderBy: LowAssignmentRowOrder) {
  analytics(product: $product) { lowAssignment {
    rows(first: $first, after: $after, orderBy: $orderBy) { totalCount pageInfo { hasNextPage endCursor } nodes {
      customer { id name } planType subscriptionId totalLicenses assigned used available
      monthsSinceAdded assignmentRate weeklyAssignmentChange
    } }
  } }
}`,
  OverLimitRowsOrdered: `query OverLimitRowsOrdered($product: KpiProduct!, $first: Int!, $after: String, $orderBy: OverLimitRowOrder) {
  analytics(product: $product) { overLimit {
    rows(first: $first, after: $after, orderBy: $orderBy) { totalCount pageInfo { hasNextPage endCursor } nodes {
      customer { id name } planType subscriptionId totalLicenses assigned used available
      monthsRemaining autoRenew assignmentRate usageRate overage
    } }
  } }
}`,

  // ------------------------------------------------------------ customers

  Customers: `query Customers($first: Int, $after: String, $last: Int, $before: String, $filter: CustomerFilter, $orderBy: CustomerOrder) {
  customers(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    nodes { id name managedBy createdOn lastAdminActivityOn statuses products launchUrl }
  }
}`,
  CustomersWithStatusDetails: `query CustomersWithStatusDetails($first: Int, $after: String, $last: Int, $before: String, $filter: CustomerFilter, $orderBy: CustomerOrder) {
  customers(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    nodes {
      id name managedBy createdOn lastAdminActivityOn statuses products launchUrl
      statusDetails { status reason since until }
    }
  }
}`,

  Customer: `query Customer($id: ID!) {
  customer(id: $id) { ...CustomerDetail }
}
fragment CustomerDetail on Customer {
  id name managedBy createdOn lastAdminActivityOn statuses products launchUrl
  subscriptions {
    id subscriptionId status startsOn endsOn autoRenew renewalDate daysRemaining
    licenses { ...Line }
    invoices { number issuedOn dueOn amount currency status }
    orders { number placedOn action product quantity }
  }
  trials { id trialId status startsOn endsOn daysRemaining licenses { ...Line } startedBy { displayName email } }
  partnerAdmins { id email displayName role }
}
fragment Line on LicenseLine { product total assigned used usedLast90Days available overage assignmentRate usageRate }`,
  CustomerWithStatusDetails: `query CustomerWithStatusDetails($id: ID!) {
  customer(id: $id) { ...CustomerDetail statusDetails { status reason since until } }
}
fragment CustomerDetail on Customer {
  id name managedBy createdOn lastAdminActivityOn statuses products launchUrl
  subscriptions {
    id subscriptionId status startsOn endsOn autoRenew renewalDate daysRemaining
    licenses { ...Line }
    invoices { number issuedOn dueOn amount currency status }
    orders { number placedOn action product quantity }
  }
  trials { id trialId status startsOn endsOn daysRemaining licenses { ...Line } startedBy { displayName email } }
  partnerAdmins { id email displayName role }
}
fragment Line on LicenseLine { product total assigned used usedLast90Days available overage assignmentRate usageRate }`,

  AssignableAdmins: `query AssignableAdmins {
  partnerAdmins(first: 100, filter: { roles: [SALES_FULL_ADMIN, SALES_ADMIN] }) { nodes { id email displayName role } }
}`,

  // ------------------------------------------------------------ administrators, audit log

  PartnerAdmins: `query PartnerAdmins($first: Int, $after: String, $filter: PartnerAdminFilter) {
  partnerAdmins(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id email displayName role hasAccessToAllCustomers assignedCustomers(first: 1) { totalCount } }
  }
  fullAdmins: partnerAdmins(first: 1, filter: { roles: [PARTNER_FULL_ADMIN] }) { totalCount }
}`,

  AuditLog: `query AuditLog($first: Int, $after: String) {
  auditLog(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id actorEmail action targetType targetId at details actor { displayName } }
  }
  partnerAdmins(first: 100) { nodes { id email displayName } }
}`,

  // ------------------------------------------------------------ live events (graphql-transport-ws on /graphql)
  // Sent over the WebSocket, not HTTP. Each asks for ids only: an event tells the
  // page what changed, and the page refetches it with the documents above.

  LiveCustomers: `subscription LiveCustomers { customerChanged { id } }`,
  LiveCustomer: `subscription LiveCustomer($id: ID!) { customerChanged(customerId: $id) { id } }`,
  LiveKpis: `subscription LiveKpis { kpisChanged { asOf } }`,
  LiveAudit: `subscription LiveAudit { auditEvent { id } }`,
  LiveAdmins: `subscription LiveAdmins { auditEvent { id action targetType details } }`,

  // ------------------------------------------------------------ mutations (SPEC §3.1)

  StartTrial: `mutation StartTrial($input: StartTrialInput!) {
  startTrial(input: $input) {
    trial { id trialId endsOn }
    customer { id name }
    userErrors { field message code }
  }
}`,
  ExtendTrial: `mutation ExtendTrial($input: ExtendTrialInput!) {
  extendTrial(input: $input) { trial { id trialId endsOn } userErrors { field message code } }
}`,
  CancelTrial: `mutation CancelTrial($input: CancelTrialInput!) {
  cancelTrial(input: $input) { trial { id trialId status } userErrors { field message code } }
}`,
  ConvertTrial: `mutation ConvertTrial($input: ConvertTrialInput!) {
  convertTrial(input: $input) {
    trial { id trialId status }
    subscription { id subscriptionId status startsOn endsOn }
    userErrors { field message code }
  }
}`,
  AssignCustomerAdmins: `mutation AssignCustomerAdmins($input: CustomerAdminsInput!) {
  assignCustomerAdmins(input: $input) { customer { id } userErrors { field message code } }
}`,
  UnassignCustomerAdmins: `mutation UnassignCustomerAdmins($input: CustomerAdminsInput!) {
  unassignCustomerAdmins(input: $input) { customer { id } userErrors { field message code } }
}`,
  CompleteOrderSetup: `mutation CompleteOrderSetup($input: CompleteOrderSetupInput!) {
  completeOrderSetup(input: $input) { customer { id statuses } userErrors { field message code } }
}`,
  CreatePartnerAdmin: `mutation CreatePartnerAdmin($input: CreatePartnerAdminInput!) {
  createPartnerAdmin(input: $input) { partnerAdmin { id email displayName role } userErrors { field message code } }
}`,
  SetPartnerAdminRole: `mutation SetPartnerAdminRole($input: SetPartnerAdminRoleInput!) {
  setPartnerAdminRole(input: $input) { partnerAdmin { id email displayName role } userErrors { field message code } }
}`,
  RemovePartnerAdmin: `mutation RemovePartnerAdmin($input: RemovePartnerAdminInput!) {
  removePartnerAdmin(input: $input) { removedAdminId userErrors { field message code } }
}`,
});
