from service.ranking.params import Param


def test_describe_lists_the_json_schema_of_a_number():
    param = Param(
        "temperature",
        "number",
        1.0,
        "Softmax temperature.",
        minimum=0.0,
        exclusive_minimum=True,
        maximum=100.0,
    )
    assert param.describe() == {
        "name": "temperature",
        "type": "number",
        "default": 1.0,
        "description": "Softmax temperature.",
        "exclusiveMinimum": 0.0,
        "maximum": 100.0,
    }


def test_describe_lists_inclusive_bounds_and_choices():
    assert Param("k", "integer", 3, "A count.", minimum=1).describe()["minimum"] == 1
    choice = Param("layout", "string", "NTC", "Axis order.", choices=("NTC", "TNC"))
    described = choice.describe()
    assert described["enum"] == ["NTC", "TNC"]
    assert "minimum" not in described
    assert "maximum" not in described
