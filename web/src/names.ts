// Display names by id for screens whose records carry ids only: users from
// one ListUsers, customers from one GetCustomer each, each asked once. (Leads
// carry their customer's and salesperson's names themselves.)
import { signal } from "@preact/signals";
import { identity, pipeline } from "./api";

export const userNames = signal<ReadonlyMap<string, string>>(new Map());
export const customerNames = signal<ReadonlyMap<string, string>>(new Map());
const asked = new Set<string>();

export async function loadUserNames(): Promise<void> {
    const names = new Map<string, string>();
    let pageToken = "";
    do {
        const { response } = await identity.listUsers({ pageSize: 1000, pageToken, includeInactive: true });
        for (const u of response.users) names.set(u.id, u.name || u.login);
        pageToken = response.nextPageToken;
    } while (pageToken);
    userNames.value = names;
}

export async function loadCustomerNames(ids: Iterable<string>): Promise<void> {
    const wanted = [...new Set(ids)].filter((id) => id !== "0" && !asked.has(id));
    wanted.forEach((id) => asked.add(id));
    const found = await Promise.allSettled(wanted.map((id) => pipeline.getCustomer({ id })));
    const names = new Map(customerNames.value);
    found.forEach((r, i) => {
        if (r.status === "fulfilled") names.set(wanted[i], r.value.response.name);
        else asked.delete(wanted[i]); // asked again next time
    });
    customerNames.value = names;
}
