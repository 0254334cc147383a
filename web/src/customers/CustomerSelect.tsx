// A customer chosen from the server's list: a search box that narrows it
// (ListCustomers query) and the select itself, sorted by name as the
// user's language sorts (Chinese names included).
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { Customer } from "../../gen/pipeline";
import { errorText, pipeline } from "../api";
import { byName } from "../format";
import { useFound } from "../ui/list";

const NONE: Customer[] = [];  // one array: an effect's dependency

type Props = {
    id: string;                 // the select's id, which the Field's label names
    value: string;              // customer id, "0" for none
    onChange: (id: string) => void;
    noneLabel: string;          // the option for no customer
    companiesOnly?: boolean;
    exclude?: string;           // a customer that may not be chosen (itself, as its own company)
    disabled?: boolean;
};

export function CustomerSelect({ id, value, onChange, noneLabel, companiesOnly, exclude, disabled }: Props) {
    const query = useSignal("");
    const { found, error } = useFound(query.value, async (text) =>
        (await pipeline.listCustomers({ query: text, parentId: "0", pageSize: 200, pageToken: "", archived: 0 })).response.customers);
    const list = found.value ?? NONE;
    const chosen = useSignal<Customer | null>(null);

    // the chosen customer stays an option whatever the search shows
    useEffect(() => {
        if (value === "0" || chosen.value?.id === value) return;
        const known = list.find((c) => c.id === value);
        if (known) {
            chosen.value = known;
            return;
        }
        pipeline.getCustomer({ id: value })
            .then(({ response }) => (chosen.value = response))
            .catch((e) => (error.value = errorText(e)));
    }, [value, list]);

    const options = list.filter((c) => (!companiesOnly || c.isCompany) && c.id !== exclude);
    if (value !== "0" && chosen.value?.id === value && !options.some((c) => c.id === value)) options.push(chosen.value);
    options.sort(byName);

    return (
        <div class="customer-select">
            <input type="search" aria-label={`Search for ${companiesOnly ? "a company" : "a customer"}`} value={query.value}
                disabled={disabled} placeholder="Search by name or email"
                onInput={(e) => (query.value = e.currentTarget.value)} />
            <select id={id} value={value} disabled={disabled} aria-describedby={`${id}-error`}
                onChange={(e) => onChange(e.currentTarget.value)}>
                <option value="0">{noneLabel}</option>
                {options.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
            </select>
            {error.value && <p class="error" role="alert">{error.value}</p>}
        </div>
    );
}
