// A call's status as the screens say it.
import { CallStatus } from "../../gen/activities";

export const statusWords: Record<CallStatus, string> = {
    [CallStatus.UNSPECIFIED]: "",
    [CallStatus.SCHEDULED]: "Scheduled",
    [CallStatus.HELD]: "Held",
    [CallStatus.CANCELLED]: "Cancelled",
};
