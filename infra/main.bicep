// The Azure side of one environment of the ECommerce system on Plexus (staging or production):
// a resource group with AKS, PostgreSQL Flexible Server 16 (private access only), ACR, Key Vault,
// Log Analytics, Application Insights, a VNet, and the identities of the workloads and of the
// pipeline with their roles. RabbitMQ runs in the cluster (a RabbitmqCluster), so there is no
// Service Bus.
//
// Every name comes from infra/environments/<environment>.json, the one place the GitHub workflow
// and scripts/deploy read them from too. No secret is written in these files: the PostgreSQL admin
// password comes in as a @secure() parameter and goes into Key Vault.
//
//   az deployment sub create --name plexus-<environment> --location <location> \
//     --template-file infra/main.bicep --parameters environment=<environment> \
//     postgresAdminPassword="$PG_ADMIN_PASSWORD" clusterAdminGroupObjectIds='["<group object id>"]'
//
// Bicep cannot be compiled on the project's machine; tests/deploy checks the files structurally.

targetScope = 'subscription'

@description('Which environment file (infra/environments/<environment>.json) names the resources.')
@allowed([
  'production'
  'staging'
])
param environment string

@description('Administrator password of the PostgreSQL server (stored in Key Vault as postgres-admin-password; the services log in with roles of their own).')
@secure()
@minLength(16)
param postgresAdminPassword string

@description('AKS Kubernetes version (major.minor): a version AKS supports in the region, not preview. List them with `az aks get-versions --location <location> -o table`. Empty: the environment file\'s aks.kubernetesVersion.')
param kubernetesVersion string = ''

@description('Public IP ranges (CIDR) of the administrators who set Key Vault secrets from their machines; empty: Key Vault only through its private endpoint.')
param adminIpRanges array = []

@description('Object ids of the Entra ID groups whose members are cluster admins (the AKS cluster has no local accounts). They run the one-time bootstrap (kustomize/bootstrap).')
@minLength(1)
param clusterAdminGroupObjectIds array

var env = environment == 'production'
  ? loadJsonContent('environments/production.json')
  : loadJsonContent('environments/staging.json')

var tags = {
  application: 'ecommerce'
  platform: 'plexus'
  environment: env.environment
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: env.resourceGroup
  location: env.location
  tags: tags
}

module resources 'resources.bicep' = {
  scope: rg
  name: 'plexus-resources'
  params: {
    env: env
    tags: tags
    postgresAdminPassword: postgresAdminPassword
    kubernetesVersion: empty(kubernetesVersion) ? env.aks.kubernetesVersion : kubernetesVersion
    adminIpRanges: adminIpRanges
    clusterAdminGroupObjectIds: clusterAdminGroupObjectIds
  }
}

// Production is promoted from staging: its pipeline identity may pull the staging registry's
// images (deploy staging first; docs/deploy.md).
var staging = loadJsonContent('environments/staging.json')
module promotion 'promotion.bicep' = if (environment == 'production') {
  scope: resourceGroup(staging.resourceGroup)
  name: 'plexus-promotion'
  params: {
    stagingRegistryName: staging.names.acr
    principalId: resources.outputs.deployPrincipalId
  }
}

// What the workflow and scripts/deploy look up (no secret among them).
output resourceGroup string = rg.name
output aksName string = resources.outputs.aksName
output acrLoginServer string = resources.outputs.acrLoginServer
output keyVaultName string = resources.outputs.keyVaultName
output postgresHost string = resources.outputs.postgresHost
output workloadClientId string = resources.outputs.workloadClientId
output deployClientId string = resources.outputs.deployClientId
output deployPrincipalId string = resources.outputs.deployPrincipalId
output tenantId string = tenant().tenantId
