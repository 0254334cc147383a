// A quotation made from a won opportunity (walkthrough 13): what the API
// holds of it (number, customer, amount, state, when) and the way back to
// its opportunity, with its chatter beside it.
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { Quotation } from "../../gen/pipeline";
import { errorText, isUnauthenticated, pipeline } from "../api";
import { Chatter } from "../chatter/Chatter";
import { formatDateTime, formatMoney } from "../format";
import { currentUser } from "../session";

export function QuotationView({ id }: { id: string }) {
    const q = useSignal<Quotation | null>(null);
    const customer = useSignal("");
    const opportunity = useSignal("");
    const error = useSignal("");

    useEffect(() => {
        q.value = null;
        error.value = "";
        const fail = (e: unknown) => isUnauthenticated(e) ? (currentUser.value = "signed-out") : (error.value = errorText(e));
        pipeline.getQuotation({ id }).then(({ response }) => {
            q.value = response;
            if (response.customerId !== "0")
                pipeline.getCustomer({ id: response.customerId }).then(({ response: c }) => (customer.value = c.name)).catch(fail);
            pipeline.getLead({ id: response.opportunityId }).then(({ response: l }) => (opportunity.value = l.name)).catch(fail);
        }).catch(fail);
    }, [id]);

    const v = q.value;
    return (
        <div class="lead-page">
            <section class="lead-main quotation" aria-labelledby="quotation-title">
                <p class="lead-crumbs"><a href="/leads?type=opportunity">Opportunities</a> / Quotation</p>
                <h1 id="quotation-title">{v ? `Quotation ${v.name}` : "Quotation"}</h1>
                {error.value && <p class="error" role="alert">{error.value}</p>}
                {!v ? !error.value && <p role="status">Loading…</p> : (
                    <dl class="quotation-facts">
                        <dt>Customer</dt>
                        <dd>{v.customerId !== "0" ? <a href={`/customers/${v.customerId}`}>{customer.value || "the customer"}</a> : "None"}</dd>
                        <dt>Opportunity</dt>
                        <dd><a href={`/leads/${v.opportunityId}`}>{opportunity.value || "the opportunity"}</a></dd>
                        <dt>Amount</dt>
                        <dd>{formatMoney(v.amount, v.currency)}</dd>
                        <dt>State</dt>
                        <dd>{v.state.charAt(0).toUpperCase() + v.state.slice(1)}</dd>
                        <dt>Created</dt>
                        <dd>{formatDateTime(v.createdAt)}</dd>
                    </dl>
                )}
            </section>
            {v && <Chatter model="quotation" id={v.id} />}
        </div>
    );
}
