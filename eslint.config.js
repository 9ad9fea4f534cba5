// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "**/node_modules/**",
      "**/dist/**",
      "**/.next/**",
      "**/src/generated/**",
      "**/.data/**",
      "**/next-env.d.ts",
      "**/playwright-report/**",
      "**/test-results/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "error",
    },
  },
  {
    files: ["**/*.test.ts", "**/test/**", "**/e2e/**", "**/bench/**", "**/scripts/**"],
    rules: { "no-console": "off" },
  },
  {
    // Test helpers (each package's `test-support/`, exported as `<package>/testing`) stay out of what the
    // processes run.
    files: ["packages/*/src/**", "apps/*/src/**"],
    ignores: ["**/*.test.ts", "**/*.test.tsx"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "^@gozon/[^/]+/testing$|/test-support/",
              message: "test helpers are not for runtime code",
            },
          ],
        },
      ],
    },
  },
);
