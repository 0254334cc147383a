// Choosing the lead or opportunity a call or meeting is about: a search
// (ListLeads' query: name, contact, email, customer) and a list of what it
// found. The chosen one's customer is shown, as the call's partner.
import { useSignal } from "@preact/signals";
import { LeadType, ListLeadsRequest, type Lead } from "../../gen/pipeline";
import { pipeline } from "../api";
import { Field, type FormError } from "../ui/form";
import { useFound } from "../ui/list";
import { rememberDocName } from "./docs";

const RESULTS = 20;

type Props = {
    id: string;
    error: FormError;
    chosen: Lead | null;
    onChoose: (lead: Lead | null) => void;
    optional?: boolean;   // a meeting may be about no document
};

export function DocPicker({ id, error, chosen, onChoose, optional }: Props) {
    const query = useSignal("");
    const { found, error: searchError } = useFound(query.value, async (text) =>
        (await pipeline.listLeads(ListLeadsRequest.create({ query: text.trim(), pageSize: RESULTS }))).response.leads);

    const options = [...(found.value ?? [])];
    if (chosen && !options.some((l) => l.id === chosen.id)) options.unshift(chosen);

    function choose(leadId: string) {
        const lead = options.find((l) => l.id === leadId) ?? null;
        if (lead) rememberDocName({ model: "lead", id: lead.id }, lead.name);
        onChoose(lead);
    }

    // a lead carries its customer's name
    const customer = chosen ? (chosen.customerId !== "0" ? chosen.customerName : chosen.companyName) : "";

    return (
        <fieldset class="docpicker">
            <legend>{optional ? "About (optional)" : "About"}</legend>
            <label for={`${id}-search`}>Search leads and opportunities</label>
            <input id={`${id}-search`} type="search" value={query.value}
                onInput={(e) => (query.value = e.currentTarget.value)} />
            {searchError.value && <p class="error" role="alert">{searchError.value}</p>}
            <Field id={id} label="Lead or opportunity" name="doc.id" error={error}>
                <select id={id} required={!optional} aria-describedby={`${id}-error`}
                    value={chosen?.id ?? ""} onChange={(e) => choose(e.currentTarget.value)}>
                    <option value="">
                        {optional ? "No document" : found.value === null ? "Loading…" : options.length ? "Choose one" : "Nothing found"}
                    </option>
                    {options.map((l) => (
                        <option key={l.id} value={l.id}>
                            {l.name} ({l.type === LeadType.OPPORTUNITY ? "opportunity" : "lead"})
                        </option>
                    ))}
                </select>
            </Field>
            {customer && <p class="docpicker-customer">Customer: {customer}</p>}
        </fieldset>
    );
}
