// A failed call on a settings screen: an expired session goes back to Sign
// in; anything else is the server's words, for the form or the screen.
import { isUnauthenticated } from "../api";
import { currentUser } from "../session";
import { formError, type FormError } from "../ui/form";

export function failure(e: unknown): FormError {
    if (isUnauthenticated(e)) currentUser.value = "signed-out";
    return formError(e);
}
