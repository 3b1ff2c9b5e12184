"""A simulated Colombian mortgage-credit portfolio, one monthly batch at a time.

The target comes from a documented latent risk model (see README, "The simulated portfolio"):

    z = 1.15·(650 − puntaje)/100  +  w_dti(t)·(dti − 0.30)  [w_dti = 6]  +  2.2·(ltv − 0.65)  +  0.55·moras
        + 2.0·(cuota/ingreso − 0.25)  + employment effect − 0.07·min(antigüedad, 12)
        + 0.9·(dti − 0.30)·[tipo_empleo = Informal]          (interaction)
        + 0.25·[edad < 26]·(ltv > 0.8) + 0.12·dependientes + city effect
        + logistic noise (scale 0.28)

    nivel_riesgo = Bajo if z < 0.21, Medio if z < 2.00, Alto otherwise.

Scenarios change the generating process month by month, counted from `origin` (2024-01):
- stable: nothing changes.
- salary_inflation: salaries, extra income and property values grow ≈14 %/year (covariate drift).
- policy_change: the dti→risk weight w_dti falls from 6.0 by 25 %/month to a floor of 1.0, and the
  score cut-offs move so the class mix stays similar (concept drift: same inputs, new labels).
- new_segment: applicants from Cartagena/Pereira and independents grow each month (population shift).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import PipelineError

SCENARIOS = ("stable", "salary_inflation", "policy_change", "new_segment")
ORIGIN = (2024, 1)

CITIES = ["Bogotá", "Medellín", "Cali", "Barranquilla", "Bucaramanga", "Cartagena", "Pereira"]
CITY_P = np.array([0.36, 0.2, 0.14, 0.1, 0.08, 0.07, 0.05])
CITY_RISK = {"Bogotá": 0.0, "Medellín": -0.05, "Cali": 0.1, "Barranquilla": 0.12,
             "Bucaramanga": -0.08, "Cartagena": 0.18, "Pereira": 0.05}
EMPLOYMENT = ["Formal", "Independiente", "Informal", "Pensionado"]
EMPLOYMENT_P = np.array([0.58, 0.22, 0.12, 0.08])
EMPLOYMENT_RISK = {"Formal": 0.0, "Independiente": 0.35, "Informal": 0.7, "Pensionado": -0.1}
MARITAL = ["Soltero", "Casado", "Unión libre", "Divorciado", "Viudo"]
MARITAL_P = [0.36, 0.34, 0.2, 0.08, 0.02]
EDUCATION = ["Bachiller", "Técnico", "Profesional", "Posgrado"]
EDUCATION_P = [0.22, 0.28, 0.36, 0.14]
PROPERTY = ["Apartamento", "Casa"]
CHANNEL = ["Oficina", "Digital", "Asesor"]


def months_since_origin(period: str) -> int:
    try:
        year, month = (int(p) for p in period.split("-"))
        if not 1 <= month <= 12:
            raise ValueError
    except ValueError:
        raise PipelineError(f"--period '{period}': expected YYYY-MM") from None
    return (year - ORIGIN[0]) * 12 + (month - ORIGIN[1])


def simulate(period: str, rows: int, scenario: str = "stable", seed: int = 0) -> pd.DataFrame:
    """One month of applications; the same arguments always give the same frame."""
    if scenario not in SCENARIOS:
        raise PipelineError(f"--scenario '{scenario}': expected one of {', '.join(SCENARIOS)}")
    if rows < 1:
        raise PipelineError(f"--rows {rows}: must be at least 1")
    t = max(months_since_origin(period), 0)
    year, month = (int(p) for p in period.split("-"))
    rng = np.random.default_rng([seed, year, month, SCENARIOS.index(scenario)])

    growth = 1.14 ** (t / 12) if scenario == "salary_inflation" else 1.0
    city_p, employment_p = CITY_P.copy(), EMPLOYMENT_P.copy()
    if scenario == "new_segment":
        shift = min(0.08 * t, 0.45)
        city_p = (1 - shift) * city_p + shift * np.array([0, 0, 0, 0, 0, 0.6, 0.4])
        employment_p = (1 - shift) * employment_p + shift * np.array([0.2, 0.6, 0.2, 0.0])
    w_dti = max(6.0 * 0.75**t, 1.0) if scenario == "policy_change" else 6.0

    n = rows
    edad = np.clip(rng.normal(38, 10, n), 21, 75).round().astype(int)
    educacion = rng.choice(EDUCATION, n, p=EDUCATION_P)
    edu_bonus = pd.Series(educacion).map(
        {"Bachiller": -0.25, "Técnico": -0.1, "Profesional": 0.15, "Posgrado": 0.4}
    ).to_numpy()
    tipo_empleo = rng.choice(EMPLOYMENT, n, p=employment_p / employment_p.sum())
    salario = np.exp(rng.normal(np.log(4.2e6) + edu_bonus + 0.004 * (edad - 38), 0.45, n)) * growth
    salario = np.round(salario, -3)
    ingresos_adicionales = np.round(
        np.where(rng.random(n) < 0.35, rng.gamma(2.0, 0.12, n) * salario, 0.0), -3
    )
    antiguedad = np.clip(rng.gamma(2.0, 3.0, n) * (edad - 18) / 25, 0, edad - 18).round(1)
    antiguedad = np.where(tipo_empleo == "Informal", np.round(antiguedad * 0.4, 1), antiguedad)
    dependientes = rng.poisson(1.1, n).clip(0, 6)
    puntaje = np.clip(rng.normal(680, 95, n), 150, 950).round().astype(int)
    ciudad = rng.choice(CITIES, n, p=city_p / city_p.sum())
    valor = np.round(salario * rng.uniform(20, 50, n) * (1 + 0.25 * (ciudad == "Bogotá")), -5)
    ltv = np.clip(rng.beta(6, 3.2, n), 0.2, 0.9)
    monto = np.round(valor * ltv, -4)
    plazo = rng.choice([120, 180, 240, 300, 360], n, p=[0.1, 0.2, 0.35, 0.15, 0.2])
    tasa = np.round(np.clip(rng.normal(12.5, 1.2, n) + (700 - puntaje) / 200, 8, 19), 2)
    r = tasa / 100 / 12
    cuota = monto * r / (1 - (1 + r) ** -plazo)
    other_debt = rng.gamma(1.6, 0.06, n) * salario
    dti = np.round(np.clip((cuota + other_debt) / (salario + ingresos_adicionales), 0.02, 0.95), 4)
    creditos = rng.poisson(1.6, n).clip(0, 9)
    moras = rng.poisson(np.clip(0.35 + (650 - puntaje) / 300, 0.05, 3)).clip(0, 12)

    payment_to_income = cuota / (salario + ingresos_adicionales)
    z = (
        1.15 * (650 - puntaje) / 100
        + w_dti * (dti - 0.30)
        + 2.2 * (ltv - 0.65)
        + 0.55 * moras
        + 2.0 * (payment_to_income - 0.25)
        + pd.Series(tipo_empleo).map(EMPLOYMENT_RISK).to_numpy()
        - 0.07 * np.minimum(antiguedad, 12)
        + 0.9 * (dti - 0.30) * (tipo_empleo == "Informal")
        + 0.25 * ((edad < 26) & (ltv > 0.8))
        + 0.12 * dependientes
        + pd.Series(ciudad).map(CITY_RISK).to_numpy()
    )
    # keep the class mix steady when the dti weight changes: shift by the lost mean contribution
    z = z + (6.0 - w_dti) * (0.36 - 0.30)
    z = z + rng.logistic(0, 0.28, n)
    riesgo = np.where(z < 0.21, "Bajo", np.where(z < 2.0, "Medio", "Alto"))

    frame = pd.DataFrame(
        {
            "id_solicitud": [f"SOL-{year:04d}{month:02d}-{i:06d}" for i in range(1, n + 1)],
            "periodo": period,
            "edad": edad,
            "salario_mensual": salario.astype(np.int64),
            "ingresos_adicionales": ingresos_adicionales,
            "valor_inmueble": valor.astype(np.int64),
            "monto_credito": monto.astype(np.int64),
            "plazo_meses": plazo,
            "tasa_interes": tasa,
            "puntaje_datacredito": puntaje,
            "dti": dti,
            "ltv": np.round(monto / valor, 4),
            "antiguedad_laboral": antiguedad,
            "numero_dependientes": dependientes,
            "creditos_activos": creditos,
            "moras_ultimo_anio": moras,
            "tipo_empleo": tipo_empleo,
            "ciudad": ciudad,
            "estado_civil": rng.choice(MARITAL, n, p=MARITAL_P),
            "nivel_educativo": educacion,
            "tipo_inmueble": rng.choice(PROPERTY, n, p=[0.68, 0.32]),
            "vivienda_vis": np.where(valor < 150 * 1.3e6 * growth, "VIS", "No VIS"),
            "canal_solicitud": rng.choice(CHANNEL, n, p=[0.45, 0.35, 0.2]),
            "nivel_riesgo": riesgo,
        }
    )
    # realistic gaps: extra income is often unreported, tenure sometimes missing
    frame["ingresos_adicionales"] = frame["ingresos_adicionales"].mask(rng.random(n) < 0.03)
    frame["antiguedad_laboral"] = frame["antiguedad_laboral"].mask(rng.random(n) < 0.01)
    return frame


def write(frame: pd.DataFrame, path: str | Path) -> None:
    from pipeline.core.files import write_frame

    write_frame(Path(path), frame)

