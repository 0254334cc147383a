// Who is signed in: null until known, then the user or "signed-out".
import { signal } from "@preact/signals";
import type { User } from "../gen/identity";
import { identity, isUnauthenticated } from "./api";

export const currentUser = signal<User | null | "signed-out">(null);
export const sessionError = signal<string>("");

// Asks the gateway whether the cookie still holds a session.
export async function loadSession(): Promise<void> {
    try {
        const { response } = await identity.whoAmI({});
        currentUser.value = response;
    } catch (e) {
        if (!isUnauthenticated(e)) sessionError.value = String((e as Error).message ?? e);
        currentUser.value = "signed-out";
    }
}
