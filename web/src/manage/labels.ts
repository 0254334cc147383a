// The words on screen for the API's enums (the walkthrough's words where it
// has them), in the order a person picks them.
import { HrAccess, SalesAccess } from "../../gen/common";
import { LeadStatus, StageType } from "../../gen/pipeline";

export const salesAccessLabels: [SalesAccess, string][] = [
    [SalesAccess.NONE, "No sales access"],
    [SalesAccess.OWN_LEADS, "Own Leads Only"],
    [SalesAccess.ALL_LEADS, "All Leads"],
    [SalesAccess.MANAGER, "Manager"],
];

export const hrAccessLabels: [HrAccess, string][] = [
    [HrAccess.NONE, "No HR access"],
    [HrAccess.EMPLOYEE, "Employee"],
    [HrAccess.OFFICER, "Officer"],
    [HrAccess.MANAGER, "Manager"],
];

export const statusLabels: [LeadStatus, string][] = [
    [LeadStatus.NEW, "New"],
    [LeadStatus.IN_PROGRESS, "In progress"],
    [LeadStatus.PENDING, "Pending"],
    [LeadStatus.WON, "Won"],
    [LeadStatus.LOST, "Lost"],
];

export const stageTypeLabels: [StageType, string][] = [
    [StageType.BOTH, "Leads and opportunities"],
    [StageType.LEAD, "Leads"],
    [StageType.OPPORTUNITY, "Opportunities"],
];

export function labelOf<T>(table: [T, string][], value: T): string {
    return table.find(([v]) => v === value)?.[1] ?? "";
}

