// Convert to opportunity: the lead becomes an opportunity with a customer
// made from its own company and contact names, linked to one that exists,
// or with none (ConvertLead's customerAction).
import { useSignal } from "@preact/signals";
import { CustomerAction, type Lead } from "../../gen/pipeline";
import { pipeline } from "../api";
import { CustomerSelect } from "../customers/CustomerSelect";
import { Field, FormAlert, submitting, type FormError } from "../ui/form";
import { Dialog } from "../ui/Dialog";

type Props = { lead: Lead; onDone: (l: Lead) => void; onClose: () => void };

const choices: [CustomerAction, string][] = [
    [CustomerAction.CREATE, "Create a new customer"],
    [CustomerAction.LINK, "Link to an existing customer"],
    [CustomerAction.NONE, "Do not link to a customer"],
];

export function ConvertDialog({ lead, onDone, onClose }: Props) {
    const hasCustomer = lead.customerId !== "0";
    const action = useSignal(hasCustomer ? CustomerAction.LINK : CustomerAction.CREATE);
    const customerId = useSignal(lead.customerId);
    const error = useSignal<FormError>(null);
    const busy = useSignal(false);

    async function submit(ev: Event) {
        ev.preventDefault();
        await submitting(busy, error, async () => onDone((await pipeline.convertLead({
            id: lead.id, customerAction: action.value,
            customerId: action.value === CustomerAction.LINK ? customerId.value : "0",
            salespersonId: "0", teamId: "0",
        })).response));
    }

    return (
        <Dialog id="convert" class="lead-dialog" title="Convert to opportunity" onClose={onClose}>
            <form method="dialog" onSubmit={submit}>
                <fieldset aria-describedby="convert-action-error">
                    <legend>Customer</legend>
                    {choices.map(([a, label]) => (
                        <label key={a} class="lead-choice">
                            <input type="radio" name="customer-action" checked={action.value === a}
                                onChange={() => (action.value = a)} /> {label}
                        </label>
                    ))}
                    <p id="convert-action-error" class="field-error" role={error.value?.field === "customerAction" ? "alert" : undefined}>
                        {error.value?.field === "customerAction" ? error.value.message : ""}
                    </p>
                </fieldset>
                {action.value === CustomerAction.LINK && (
                    <Field id="convert-customer" label="Existing customer" name="customerId" error={error.value}>
                        <CustomerSelect id="convert-customer" value={customerId.value} noneLabel="Choose a customer"
                            onChange={(id) => (customerId.value = id)} />
                    </Field>
                )}
                <FormAlert error={error.value} fields={["customerAction", ...(action.value === CustomerAction.LINK ? ["customerId"] : [])]} />
                <div class="lead-actions">
                    <button type="submit" disabled={busy.value}>Convert</button>
                    <button type="button" onClick={onClose}>Cancel</button>
                </div>
            </form>
        </Dialog>
    );
}
