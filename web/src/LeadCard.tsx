// One opportunity on the board: subject, customer, expected revenue,
// salesperson. Reachable by keyboard (tab stop) and named by its subject.
import type { Lead } from "../gen/pipeline";
import { formatMoney } from "./format";
import { customerNames, userNames } from "./names";

export function LeadCard({ lead }: { lead: Lead }) {
    const customer = customerNames.value.get(lead.customerId) ?? lead.companyName;
    const salesperson = lead.salespersonId !== "0" ? userNames.value.get(lead.salespersonId) : undefined;
    return (
        <li class="card" data-lead-id={lead.id} tabIndex={0} aria-labelledby={`lead-${lead.id}`}>
            <h3 id={`lead-${lead.id}`}>{lead.name}</h3>
            <dl>
                {customer && (<><dt>Customer</dt><dd>{customer}</dd></>)}
                {lead.expectedRevenue !== "0" && (
                    <><dt>Expected Revenue</dt><dd>{formatMoney(lead.expectedRevenue, lead.currency)}</dd></>
                )}
                {salesperson && (<><dt>Salesperson</dt><dd>{salesperson}</dd></>)}
            </dl>
        </li>
    );
}
