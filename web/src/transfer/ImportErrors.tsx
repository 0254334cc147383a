// The rows an import refused: the file's row, the column as its header
// names it, and the server's words.
import type { RowError } from "../../gen/pipeline";

export function ImportErrors({ errors }: { errors: RowError[] }) {
    if (!errors.length) return null;
    return (
        <div class="import-errors" role="region" aria-label="Rows with errors" tabIndex={0}>
            <table class="leads-table">
                <caption>Rows with errors</caption>
                <thead>
                    <tr>
                        <th scope="col">Row</th>
                        <th scope="col">Column</th>
                        <th scope="col">Message</th>
                    </tr>
                </thead>
                <tbody>
                    {errors.map((e, i) => (
                        <tr key={i}>
                            <th scope="row">{e.row}</th>
                            <td>{e.field}</td>
                            <td>{e.message}</td>
                        </tr>
                    ))}
                </tbody>
            </table>
        </div>
    );
}
