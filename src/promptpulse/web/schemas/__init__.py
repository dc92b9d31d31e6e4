"""Response models: what each route returns, for `/openapi.json` and for the routes'
`response_model`. They describe today's answers, never reshape them: optional keys a route may
leave out (`approximate`, `previous`) stay out (`response_model_exclude_unset`), open keys are
`dict[str, ...]` or `extra="allow"`, numbers that may be whole are `int | float`."""
