// Forms that show the server's words where they belong: a Twirp error that
// names a field (meta.field, the field's JSON name) is shown under that
// field; any other error goes to the form's alert.
import type { ComponentChildren } from "preact";
import type { Signal } from "@preact/signals";
import { RpcError } from "@protobuf-ts/runtime-rpc";
import { errorText, isUnauthenticated } from "../api";
import { currentUser } from "../session";

export type FormError = { field: string; message: string } | null;

export function formError(e: unknown): FormError {
    if (e === null || e === undefined) return null;
    const field = e instanceof RpcError ? e.meta?.["field"] : undefined;
    return { field: typeof field === "string" ? field : "", message: errorText(e) };
}

// A failed call: an expired session goes back to Sign in; anything else is
// the server's words, for the form or the screen.
export function failure(e: unknown): FormError {
    if (isUnauthenticated(e)) currentUser.value = "signed-out";
    return formError(e);
}

// A form's call: the form busy while it runs, its error (or none) after.
export async function submitting(busy: Signal<boolean>, error: Signal<FormError>, run: () => Promise<unknown>): Promise<void> {
    busy.value = true;
    error.value = null;
    try {
        await run();
    } catch (e) {
        error.value = failure(e);
    } finally {
        busy.value = false;
    }
}

type FieldProps = {
    id: string;          // the control's id
    label: string;
    name: string;        // the request's JSON field name, as the server names it
    error: FormError;
    children: ComponentChildren;  // the control, with id={id} and aria-describedby={`${id}-error`}
};

// A labelled control and, when the server named it, its error beneath.
export function Field({ id, label, name, error, children }: FieldProps) {
    const mine = error && error.field === name;
    return (
        <div class={mine ? "field invalid" : "field"}>
            <label for={id}>{label}</label>
            {children}
            <p id={`${id}-error`} class="field-error" role={mine ? "alert" : undefined}>{mine ? error.message : ""}</p>
        </div>
    );
}

// The form's own alert: errors no field was named for.
export function FormAlert({ error, fields }: { error: FormError; fields: readonly string[] }) {
    if (!error || (error.field && fields.includes(error.field))) return null;
    return <p class="error" role="alert">{error.message}</p>;
}
