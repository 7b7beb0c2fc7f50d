def to_snake_case(name: str) -> str:
    """Convert a camelCase or PascalCase name to snake_case: 'parseHttpRequest' gives 'parse_http_request'."""
