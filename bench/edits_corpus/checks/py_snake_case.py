from solution import to_snake_case as f
assert f('parseHttpRequest') == 'parse_http_request'
assert f('Value') == 'value'
