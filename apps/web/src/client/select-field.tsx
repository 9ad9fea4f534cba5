import type { SelectHTMLAttributes } from "react";

/** A labelled select, the counterpart of Field. */
export function SelectField({
  id,
  label,
  options,
  ...select
}: {
  id: string;
  label: string;
  options: ReadonlyArray<{ value: string; label: string }>;
} & SelectHTMLAttributes<HTMLSelectElement>) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} {...select}>
        {options.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
    </div>
  );
}
