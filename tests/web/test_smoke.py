"""The README's first example, end to end through the app."""


def test_readme_margin_example(client):
    response = client.post(
        "/v1/rank",
        json={
            "strategy": "margin",
            "budget": 2,
            "probabilities": [[0.5, 0.5], [0.9, 0.1], [0.6, 0.4]],
        },
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["indices"] == [0, 2]
    assert body["scores"] == [1.0, 1 - (0.6 - 0.4)]
    assert body["pool_size"] == 3
