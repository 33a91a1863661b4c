/** The usage of `iam audit` (kept apart so that `iam` loads the rest only when asked). */
export const AUDIT_USAGE = `the audit trail on the database file (IAM_DB):
  iam audit verify [--organization ORG --project PROJECT] [--json]
      walks every chain (or one); exit code 1 names the first event altered, removed or reordered
  iam audit export [--organization ORG --project PROJECT] [--after SEQUENCE]
      every event (or one chain's, after a sequence) as JSON lines, for a SIEM
  iam audit tail [--organization ORG --project PROJECT] [--after SEQUENCE]
      each new event (of every chain, or one) as a JSON line as it is committed, until interrupted`;
